"""Defaults that more than one layer needs: written once, here."""

# Seconds a clip's probe may take before it is given up as "probe timed out".
PROBE_TIMEOUT_S = 30.0
# x264's constant rate factor of a media fix's re-encode: visually lossless for training.
CRF = 18
# A remote clip the probe must read whole (webm, mkv, avi; an mp4 whose index is not
# enough) is fetched in one GET up to this size (config remote-fetch-limit-mib), through a
# cache of blocks above it (remote.blocks): above any clip a CogVideoX dataset holds, and a
# bounded amount of memory per probe worker.
REMOTE_FETCH_LIMIT_MIB = 256
# `--engine ray`: retries of a Ray task whose worker or node was lost (never for a bad clip).
RAY_RETRIES = 3
