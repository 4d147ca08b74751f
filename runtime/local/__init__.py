"""The embedded platform: the local stack's rollouts as processes on loopback."""
