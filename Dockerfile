# Build stage: compile src/ only (tsconfig.build.json; no test/, no bench/) with dev dependencies.
# Node 24 is the active LTS line (Node 20 reached end of life in April 2026).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing to build yet, and no dependency runs install scripts here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build:src

# Runtime stage: production dependencies, the compiled server and the production config only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The status page's files: read at start-up from the source folder (tsc copies no non-TS file).
COPY src/http/page/static ./src/http/page/static
COPY bin ./bin
# The production-safe example (no mysql credentials; set them in your own file): mount yours
# over it. HACHECK_CONFIG makes the server and the spool tools (`docker exec <c> hadown web`)
# read the same file, so they agree on spool_root.
COPY config/hacheck.yaml /etc/hacheck/hacheck.yaml
ENV HACHECK_CONFIG=/etc/hacheck/hacheck.yaml PATH=/app/bin:$PATH
# The spool root belongs to the unprivileged user so remote spool changes can write it.
RUN mkdir -p /var/spool/hacheck && chown node:node /var/spool/hacheck && chmod 0750 /var/spool/hacheck
USER node
VOLUME ["/var/spool/hacheck"]
EXPOSE 3333
# /status answers 200 whenever the process serves; it probes nothing upstream. The check reads
# the server's own -p/-B arguments (from /proc/1/cmdline), so it follows a changed port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "/app/dist/src/cli/container-health.js"]
# node is PID 1 and handles SIGTERM itself (graceful stop within shutdown_timeout, 15 s by
# default): run with `docker stop -t 20` / terminationGracePeriodSeconds >= 20.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/bin/hacheck"]
CMD ["-p", "3333"]
