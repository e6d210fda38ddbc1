"""The AWS emulator: moto 5.2.5 extended (MSK over the real cluster, SSM that runs commands,
CloudWatch alarm evaluation with EventBridge events, Lambda invokes routed to cargo lambda watch).
Run as its own process: `python -m local.aws.server --config FILE` (local.stack does it)."""
