#!/usr/bin/env bash
# The soak of issue 10, one minute in CI (ctest label "soak"): tools/soak/run.sh with 60 s of
# mixed ingest and profile reads under wrk, 15 s of it warm-up; no error answer, RSS flat after
# the warm-up, no descriptor growth. `make soak` runs the same for 10 minutes.
SOAK_SECONDS=${SOAK_SECONDS:-60} SOAK_WARMUP=${SOAK_WARMUP:-15} \
    exec bash "${CDP_SOURCE_DIR:-.}/tools/soak/run.sh" "${CDP_BUILD_DIR:-build}"
