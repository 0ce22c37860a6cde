"""The shared protocol: product manifests (W3C WoT Thing Description 1.1 plus the `cm:provides`,
`cm:requires` and `cm:family` extension), their validation, the interface registry and the
compatibility engine that decides whether products can be combined into a working system.

Depends on no other domain: designs refer to manifests, never the other way round.
"""
