"""The cluster's PKI, made on the control machine: CAs, certificates, keys and kubeconfigs.

``generate_pki(cluster)`` writes (or brings up to date) everything a cluster needs in
``<work dir>/pki``, laid out like kubeadm's ``/etc/kubernetes/pki`` (see `plan_pki` for the
files); each item is created, kept or regenerated with the reason. ``local_expirations`` and
``host_expirations`` tell when certificates expire, on this machine or on a host.
"""

from kubexms.pki._catalog import (
    ETCD_CA,
    FRONT_PROXY_CA,
    KUBERNETES_CA,
    LOCAL_API_SERVER,
    CertificateSpec,
    KubeconfigSpec,
    PkiPlan,
    apiserver_sans,
    control_plane_url,
    plan_pki,
)
from kubexms.pki._errors import PkiError
from kubexms.pki._expiry import (
    Authorities,
    CertificateExpiry,
    authority_of,
    local_authorities,
    local_expirations,
)
from kubexms.pki._generate import Action, PkiEntry, PkiReport, default_pki_directory, generate_pki
from kubexms.pki._host_certs import (
    HOST_CERT_DIRECTORIES,
    HOST_KUBECONFIG_DIRECTORY,
    host_expirations,
    host_scan_script,
    parse_host_scan,
)
from kubexms.pki._issue import issue_certificate
from kubexms.pki._keys import load_private_key, new_private_key, private_key_pem
from kubexms.pki._kubeconfig import KubeconfigContents, parse_kubeconfig, render_kubeconfig
from kubexms.pki._options import KeyType, PkiOptions, pki_options
from kubexms.pki._phase import GeneratePki, PkiModule
from kubexms.pki._profiles import (
    CLUSTER_ADMINS,
    SYSTEM_MASTERS,
    SYSTEM_NODES,
    CertKind,
    CertProfile,
)

__all__ = [
    "CLUSTER_ADMINS",
    "ETCD_CA",
    "FRONT_PROXY_CA",
    "HOST_CERT_DIRECTORIES",
    "HOST_KUBECONFIG_DIRECTORY",
    "KUBERNETES_CA",
    "LOCAL_API_SERVER",
    "SYSTEM_MASTERS",
    "SYSTEM_NODES",
    "Action",
    "Authorities",
    "CertKind",
    "CertProfile",
    "CertificateExpiry",
    "CertificateSpec",
    "GeneratePki",
    "KeyType",
    "KubeconfigContents",
    "KubeconfigSpec",
    "PkiEntry",
    "PkiError",
    "PkiModule",
    "PkiOptions",
    "PkiPlan",
    "PkiReport",
    "apiserver_sans",
    "authority_of",
    "control_plane_url",
    "default_pki_directory",
    "generate_pki",
    "host_expirations",
    "host_scan_script",
    "issue_certificate",
    "load_private_key",
    "local_authorities",
    "local_expirations",
    "new_private_key",
    "parse_host_scan",
    "parse_kubeconfig",
    "pki_options",
    "plan_pki",
    "private_key_pem",
    "render_kubeconfig",
]
