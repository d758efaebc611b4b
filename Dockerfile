# syntax=docker/dockerfile:1
# Politburo controller image: `docker build -t politburo .` then `docker run politburo` runs `politburo serve`
# (configuration by environment variables, see docs/configuration.md and charts/politburo/values.yaml).

# --- build: compile TypeScript, then keep only production dependencies -----------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY cli cli
COPY controller controller
COPY reconciler reconciler
COPY schema schema
COPY webhooks webhooks
COPY migrations migrations
RUN npx tsc -p tsconfig.json \
 && node dist/schema/write-json-schema.js \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: node, git (mirrors) and the OpenSSH client, as an unprivileged user ---------------------------------
FROM node:20-slim
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
