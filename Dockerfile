# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript and generate the Prisma client in a build stage, then run
# the compiled code as a non-root user (uid/gid 10001) in a slim runtime image. The build context is
# only what .dockerignore lets through. compose.yaml and deploy/kubernetes/ run this image as
# `db migrate` (once), `serve --no-worker` and `worker` (docs/operations.md).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PATCHBOT_USE_DIST=1 \
    PATCHBOT_DATA_DIR=/var/lib/patchbot
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client ca-certificates tini fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 patchbot \
 && useradd --system --uid 10001 --gid patchbot --home-dir /var/lib/patchbot --create-home patchbot \
 && mkdir -p /etc/patchbot/ssh
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json prisma.config.ts ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root prisma ./prisma
COPY --chown=root:root data ./data
# numeric, so a runtime can check it is not root (Kubernetes runAsNonRoot)
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/patchbot.js"]
CMD ["serve"]
