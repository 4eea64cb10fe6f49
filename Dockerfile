# memseal: the conformance suite in a container.
#
#   docker build -t memseal .
#   docker run --rm memseal                      # memseal check, as user `node`, default seccomp profile
#   docker run --rm --security-opt seccomp=docker/seccomp-mseal.json memseal memseal check --json
#
# See docker/README.md for what the engine's seccomp profile changes and which clauses need root.

# The base must be a Debian-based Node.js >= 18.18 image (glibc, apt-get, a `node` user or useradd).
# Machines that reach no registry pass a local stand-in: --build-arg BASE=<image> (scripts/docker-base.sh).
ARG BASE=node:20-bookworm-slim

# ---- build: compile the addon and the TypeScript --------------------------------------------------------
FROM ${BASE} AS build
# node-gyp needs python3, make and a C++ compiler; the slim image has none of them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, exactly as the lockfile has them and without scripts: this layer stays cached while
# only the sources change.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# The addon first: it only depends on native/ and binding.gyp, so TypeScript edits do not recompile it.
# Official Node images carry the headers in <prefix>/include/node; use them rather than downloading them.
COPY binding.gyp ./
COPY native ./native
RUN nodedir="$(node -p "require('path').resolve(process.execPath, '..', '..')")" \
 && if [ -f "$nodedir/include/node/node_api.h" ]; then export npm_config_nodedir="$nodedir"; fi \
 && npm run build:native --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY scripts/esm-wrapper.js scripts/matrix-deps.sh ./scripts/
# The TypeScript half of `npm run build` (the addon above is the other half); --ignore-scripts keeps
# npm's pre/post hooks out.
RUN npm run compile --ignore-scripts
# What the runtime stage copies from here: the package, the addon and a launcher.
RUN mkdir -p /opt/memseal/build/Release \
 && cp -a package.json dist /opt/memseal/ \
 && cp build/Release/memseal.node /opt/memseal/build/Release/ \
 && printf '#!/bin/sh\nexec node /opt/memseal/dist/cli.js "$@"\n' >/opt/memseal/memseal \
 && chmod 0755 /opt/memseal/memseal

# ---- deps: production dependencies only; depends on the lockfile alone, so it stays cached ----------
FROM ${BASE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: node, the compiled package, nothing else ------------------------------------------------
FROM ${BASE} AS runtime
LABEL org.opencontainers.image.title="memseal" \
      org.opencontainers.image.description="Checks the running Linux kernel's sealed-memory syscalls against their documentation" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production
# Official images have the unprivileged user `node` (uid 1000); other bases get one.
RUN id -u node >/dev/null 2>&1 || useradd --uid 1000 --user-group --create-home --shell /bin/sh node
COPY --from=build /opt/memseal /opt/memseal
COPY --from=deps /src/node_modules /opt/memseal/node_modules
RUN ln -s /opt/memseal/memseal /usr/local/bin/memseal
# Non-root by default: every clause runs as a user except those that need root (hugetlb pools,
# vm.memfd_noexec in a private pid namespace); those skip with that reason. Run with --user root
# (and the privileges docker/README.md names) to include them.
USER node
WORKDIR /home/node
CMD ["memseal", "check"]
