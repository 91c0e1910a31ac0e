"""berth.build: Dockerfiles to images (Docker's classic builder, with BuildKit's
stage skipping, parallel stages and RUN --mount).

Public interface:

- `berth.build.engine.BuildEngine(images, conn, state_dir=, runtime=, pull=)`:
  `prepare_dir(root, dockerfile)` / `prepare_tar(stream, dockerfile)` -> BuildJob
  (extracts and parses: ParseError / NotFound now), `run(job, BuildOptions, out,
  on_built=)` -> BuildResult, `build_dir(root, opts, out)`, `prune()`, `recover()`.
- `berth.build.builder.BuildOptions(tags, build_args, target, labels, no_cache,
  pull, network)`, `BuildResult(image_id, tags)`, `StepFailed(message, code)`.
- `berth.build.instructions.parse(text, file)` -> Dockerfile (stages, meta args,
  typed instructions with line numbers); `parse_change(text)` for one
  instruction; `berth.build.dockerfile.ParseError(file, line, message)`.
- `berth.build.dockerignore.Matcher.from_text(text).excluded(path)`.
- `berth.build.words.expand / split` (Docker's quoting and `$var` rules).

Modules: dockerfile (syntax), instructions (meaning), words (substitution),
dockerignore, context (sources), plan (stage graph), state (a stage's
progress, a step's outcome), builder (stages and steps), configstep
(config-only instructions), copystep + copier (COPY/ADD layer tars), runner
(RUN in a container through the OCI runtime CLI), views (image trees), cache
(SQLite, migration 500), output (log ordering), engine (entry point).
"""
