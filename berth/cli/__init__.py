"""The `berth` command line: docker's commands, flags, columns and exit codes.

Layout: `main` parses the global options and picks a command from a static
table, importing only that command's module (`commands/*`); `flags` is a small
pflag-like parser (docker's flag syntax and error wording); `template` is the Go
text/template subset behind `--format`; `humanize` formats times and sizes as
docker does; `table` lays out columns; `runopts` turns `run`/`create` flags into
the Engine API body; `streams` pumps attach/exec streams and the terminal;
`sessions` is what attached commands share (detach keys, signal proxy, raw mode);
`progress` renders pull/push/load/build JSON streams.

Other packages do not import this one; tools should use `berth.client`.
"""
