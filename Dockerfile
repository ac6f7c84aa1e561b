# syntax=docker/dockerfile:1
#
# One image for every hexa service and operator command:
#   docker build -t hexa .
#   docker run --rm hexa help
#   docker run --rm -e DATABASE_URL=... -e NATS_URL=... -p 8080:8080 hexa order
#   docker run --rm -e DATABASE_URL=... hexa migrate marketing order
#   docker run --rm -e NATS_URL=... hexa dead-letters list
#
# Base image: Debian 12 "slim" with Node 24, not Alpine. Node's Linux builds target glibc, which
# is what the project is developed and tested on (Debian 12); Node on musl is an unofficial,
# experimental build, and the npm packages that ship native binaries (buf at build time, the
# embedded PostgreSQL of the all-in-one) publish glibc builds first. Slim leaves out compilers and
# documentation; the difference to Alpine is a few tens of MB, paid once per node.
# Pin the digest in production (node:24-bookworm-slim@sha256:...) to rebuild byte for byte.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------
# pnpm on Node: the toolchain of the build stages (the final image has neither pnpm nor npm).
FROM ${NODE_IMAGE} AS pnpm
ARG PNPM_VERSION=12.21.0
ENV CI=true
RUN npm install --global --no-fund --no-audit --loglevel=error "pnpm@${PNPM_VERSION}" \
  && npm cache clean --force
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# Code generation: every dependency (buf and protoc-gen-es are development dependencies), then
# `pnpm codegen` writes packages/proto/src/gen from proto/ and vite builds the web console.
# `pnpm fetch` needs only the lockfile and the library patches it names (patches/), so this layer
# is rebuilt only when they change. Install scripts are not run: buf's binary comes from its
# platform package, and nothing else is needed to generate.
FROM pnpm AS codegen
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches ./patches
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile --ignore-scripts \
  && pnpm codegen \
  && pnpm --filter @hexa/console build

# ---------------------------------------------------------------------------------------------
# Production dependencies only: no development tools, no tests' dependencies, and no optional
# packages (the embedded PostgreSQL of the all-in-one: in a container DATABASE_URL is required).
# `pnpm fetch` cannot leave optional packages out, so prune removes what the install did not link.
FROM pnpm AS production
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches ./patches
RUN pnpm fetch --prod
COPY . .
RUN pnpm install --offline --frozen-lockfile --prod --ignore-scripts --no-optional \
  && pnpm prune --prod --ignore-scripts --no-optional

# ---------------------------------------------------------------------------------------------
# The image: Node, the sources (Node runs the TypeScript by type stripping: no build step), the
# production dependencies and the generated code. Everything belongs to root and is read-only for
# the service's user, so the container runs with a read-only root filesystem; nothing is written
# outside /tmp (an emptyDir in the Helm chart).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
  HOST=0.0.0.0 \
  PORT=8080
# The service's own user and group (numeric, so Kubernetes can check runAsNonRoot), and no package
# manager left to run.
RUN groupadd --system --gid 10001 hexa \
  && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin hexa \
  && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn \
    /usr/local/bin/yarnpkg
WORKDIR /app
COPY --from=production /app/package.json ./package.json
COPY --from=production /app/node_modules ./node_modules
COPY --from=production /app/packages ./packages
COPY --from=production /app/apps ./apps
COPY --from=codegen /app/packages/proto/src/gen ./packages/proto/src/gen
COPY --from=codegen /app/apps/console/dist ./apps/console/dist
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/hexa
USER 10001:10001
EXPOSE 8080
# Node replaces the entry script (exec) and handles SIGTERM itself: it reports not ready, drains,
# finishes in-flight calls and flushes its outbox. The services start no child processes, so no
# init process is needed to reap them.
ENTRYPOINT ["/usr/local/bin/hexa"]
CMD ["help"]
