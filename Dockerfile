# syntax=docker/dockerfile:1
# The app as a container: built from the locked dependencies, run as a non-root user on a
# distroless base that holds the binary and nothing else. Templates (askama), static files and
# migrations are compiled into the binary, so no file of the repository is needed at run time.
#
#   docker build -t cognito-web .
#   docker run --rm -p 8080:8080 --env-file .env -v cognito-data:/data cognito-web

FROM rust:1.95-slim-trixie AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
# The caches keep downloaded crates and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/cognito-web /usr/local/bin/cognito-web \
    && mkdir /data

# glibc and libgcc only: the binary has no other shared library (SQLite is bundled, TLS is
# rustls on ring).
FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=build /usr/local/bin/cognito-web /usr/local/bin/cognito-web
# The data folder, owned by the image's non-root user so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /data /data
ENV APP_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/app.db
VOLUME ["/data"]
EXPOSE 8080
# The distroless "nonroot" user, by number so that any host can tell it is not root.
USER 65532:65532
# No curl in a distroless image: the binary asks itself for GET /healthz (liveness; load
# balancers should watch /readyz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/cognito-web", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/cognito-web"]
