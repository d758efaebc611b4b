/** URLs of dashboard pages (repository keys hold slashes: they travel encoded in one path segment). */
export const environmentUrl = (repository: string, environment: string): string =>
  `/environments/${encodeURIComponent(repository)}/${encodeURIComponent(environment)}`;
export const runUrl = (id: string): string => `/runs/${encodeURIComponent(id)}`;
export const nodeAnchor = (path: string): string => `node-${path.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
