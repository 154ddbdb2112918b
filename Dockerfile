# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript and generate the Prisma client in a build stage, then run
# the compiled code as a non-root user in a slim runtime image.

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
 && groupadd --system patchbot \
 && useradd --system --gid patchbot --home-dir /var/lib/patchbot --create-home patchbot
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json prisma.config.ts ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root prisma ./prisma
COPY --chown=root:root data ./data
USER patchbot
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/patchbot.js"]
CMD ["serve", "--migrate"]
