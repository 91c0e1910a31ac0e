"""One module per family of commands; each has SPECS[name] and run_<name>(ctx, opts, args)."""
