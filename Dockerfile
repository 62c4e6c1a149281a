# Build stage: compile TypeScript with dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies and the compiled server only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The status page's files: read at start-up from the source folder (tsc copies no non-TS file).
COPY src/http/page/static ./src/http/page/static
COPY bin ./bin
COPY config ./config
# The spool root belongs to the unprivileged user so remote spool changes can write it.
RUN mkdir -p /var/spool/hacheck && chown node:node /var/spool/hacheck && chmod 0750 /var/spool/hacheck
USER node
VOLUME ["/var/spool/hacheck"]
EXPOSE 3333
# /status answers 200 whenever the process serves; it probes nothing upstream. Assumes -p 3333.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3333/status',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM itself (graceful stop within shutdown_timeout, 15 s by
# default): run with `docker stop -t 20` / terminationGracePeriodSeconds >= 20.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/bin/hacheck"]
CMD ["-c", "config/hacheck.yaml", "-p", "3333"]
