# The page's bundle and the client package are built with the dev dependencies (esbuild, tsc), then left
# out of the image with them.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.client.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY sql ./sql
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
EXPOSE 8080
USER node
# the young generation capped at 16 MiB per semi-space: V8 would grow it to 64 MiB on a large machine (docs/scaling.md)
CMD ["node", "--max-semi-space-size=16", "src/server.ts"]
