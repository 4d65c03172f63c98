"""The private image registry kubexms runs (phase ``registry``, ``spec.registry.type: registry``).

``_pki`` makes the registry's own CA and server certificate; ``_config`` renders the unit,
config.yml and the bcrypt htpasswd; ``_module`` declares the phase on the building blocks and
pushes the store's images into it.
"""

from kubexms.registry._config import UNIT_NAME, render_htpasswd
from kubexms.registry._module import PushImages, RegistryModule, registry_name
from kubexms.registry._pki import CA_CERT, RegistryPki, ensure_registry_pki

__all__ = [
    "CA_CERT",
    "UNIT_NAME",
    "PushImages",
    "RegistryModule",
    "RegistryPki",
    "ensure_registry_pki",
    "registry_name",
    "render_htpasswd",
]
