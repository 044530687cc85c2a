"""The sandbox student code runs in: bubblewrap, rlimits, seccomp and (when allowed) cgroups."""
