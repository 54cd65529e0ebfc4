# AsyncQueue server image. Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY server/package.json server/package.json
COPY sdk/package.json sdk/package.json
RUN npm ci --omit=dev --workspace server --include-workspace-root=false --no-audit --no-fund
COPY server server
USER node
EXPOSE 3000
# Flags: see server/src/config/node-flags.ts (memory footprint).
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=384", "server/src/main.ts"]
