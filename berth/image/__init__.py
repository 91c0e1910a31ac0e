"""berth.image: references, image types, the content store, the image store, the service.

Public interface (other packages import these, nothing else):

- `berth.image.reference`: `parse(text) -> Reference` (Docker's normalisation,
  InvalidArgument "invalid reference format"), `parse_tagged` (adds :latest),
  `familiar(text)`, `Reference(domain, path, tag, digest)` with `.name`,
  `.familiar_name`, `.familiar()`, `str()`.
- `berth.image.types`: media type constants, `Descriptor`, `Manifest`, `Index`
  (`.select(platform)`), `ImageConfig`, `History`, `Platform`, `parse_platform`,
  `host_platform`, `parse_manifest_or_index(raw, media_type)`.
- `berth.image.digest`: `validate`, `of_bytes`, `Digester`, `chain_ids`.
- `berth.image.content`: `ContentStore` protocol, `LocalContentStore(root)`
  (an OCI image layout; `writer(expected, size)` verifies before rename).
- `berth.image.store`: `ImageStore(conn)`, `ImageRecord`, `ImageFilters`,
  `ContainerUse`, `DeleteRecord`.
- `berth.image.service`: `ImageService(root, conn, driver=...)`, the facade the
  daemon, distribution and build call (see its docstring and docs/images.md).

Behind the facade (not for import elsewhere): `service_impl` (unpacking,
registration, GC, recovery), `containers` (container root filesystems),
`create` (images from a layer tar: commit, build, import, base images),
`archive` (save/load), `base` (busybox and debootstrap layers),
`config_changes` (`--change` instructions).
"""
