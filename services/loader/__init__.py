"""The warehouse loader's entry points: a scheduled Lambda handler (and `imgpipe load`)."""
