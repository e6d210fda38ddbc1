"""The local default: a real Apache Kafka cluster and emulated AWS (moto, extended) on one machine.

Modules:
    local.procs      child processes that are always cleaned up (process groups, parent-death signal)
    local.kafka      a KRaft cluster of real Kafka JVMs, its CLI scripts and metadata probe
    local.limits     per-broker resource limits (network namespace + tc) that make capacity real
    local.aws        the AWS emulator process: moto + MSK/SSM/CloudWatch extensions + Lambda router
    local.lambdas    `cargo lambda watch` serving the real functions
    local.stack      everything above as one context manager and `python -m local.stack up|down|status`

See local/README.md for the API and the command-line entry points.
"""
