# The container image is the Debian package installed on Debian 12: the same artefact as
# `apt install ./hacheck_<version>_amd64.deb`, built by the same script as `npm run package:deb`
# (docs/install.md "Container image").

# Build stage: the .deb (compiled src/ only, production dependencies, the pinned Node.js runtime,
# man pages). Node 24 here only runs npm and the TypeScript compiler.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json LICENSE README.md ./
COPY src ./src
COPY bin ./bin
COPY config ./config
COPY docs ./docs
COPY packaging ./packaging
RUN mkdir /out && sh packaging/build-deb.sh /out

# Runtime stage: Debian 12 with the package, which brings its own Node.js runtime, the hacheck
# user, /etc/hacheck/hacheck.yaml (production-safe: no credentials; mount yours over it) and
# /var/spool/hacheck owned by hacheck. The /usr/bin wrappers default to that config, so the
# server and the tools (`docker exec <c> hadown web`) agree on the spool.
FROM debian:bookworm-slim
COPY --from=build /out/ /tmp/deb/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/deb/hacheck_*_amd64.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/deb
ENV HACHECK_CONFIG=/etc/hacheck/hacheck.yaml
USER hacheck
VOLUME ["/var/spool/hacheck"]
EXPOSE 3333
# /status answers 200 whenever the process serves; it probes nothing upstream. The check reads
# the server's own -p/-B arguments (from /proc/1/cmdline), so it follows a changed port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/lib/hacheck/node/bin/node", "/usr/lib/hacheck/dist/src/cli/container-health.js"]
# The wrapper execs node, which is PID 1 and handles SIGTERM itself (graceful stop within
# shutdown_timeout, 15 s by default): run with `docker stop -t 20` / terminationGracePeriodSeconds >= 20.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/hacheck"]
CMD ["-p", "3333"]
