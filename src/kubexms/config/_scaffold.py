"""A commented starting point for a new cluster file."""

from __future__ import annotations

from string import Template

from kubexms.config._etcd import DEFAULT_ETCD_VERSION
from kubexms.config._kubernetes import DEFAULT_CONTAINERD_VERSION, DEFAULT_KUBERNETES_VERSION

_SCAFFOLD = Template("""\
# kubexms cluster file. Check it with:  kubexms config validate -f <this file>
# Field names are camelCase. Any string value may be an environment variable reference,
# $${ENV_VAR}, resolved when the file is loaded (write $$$${...} for a literal "$${").
# Prefer references for secrets (password, privateKey, sudoPassword, registry passwords).
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata:
  name: $name                 # DNS-1123 label; also names the work directory

spec:
  # Every machine of the cluster. Unset user/port/credentials/bastion come from `global`.
  hosts:
  - name: node1               # required, unique, DNS-1123 label (lower case, digits, '-')
    address: 192.168.0.11     # required: IP or host name the control machine connects to
    internalAddress: 192.168.0.11  # address inside the cluster; defaults to address
    # port: 22                # SSH port, 1-65535; defaults to global.port
    # user: root              # SSH user; defaults to global.user
    # Log-in: at most ONE of password / privateKeyPath / privateKey (else global's is used).
    # password: $${NODE1_PASSWORD}
    # privateKeyPath: ~/.ssh/id_ed25519
    # privateKey: |
    #   -----BEGIN OPENSSH PRIVATE KEY-----
    # sudoPassword: $${NODE1_SUDO}  # when a non-root user needs a password for sudo;
    #                               # defaults to the password
    # arch: amd64             # amd64 | arm64; detected when not given
    labels: {}                # Kubernetes node labels, e.g. {disktype: ssd}
    # bastion:                # jump host just for this host (overrides global.bastion;
    #   address: 192.168.0.2  #   `bastion: null` connects directly)
    #   port: 22
    #   user: jump            # defaults to this host's user
    #   privateKeyPath: ~/.ssh/jump  # defaults to this host's credentials
    # connector: ssh          # ssh | local (this machine, without SSH)
  - name: node2
    address: 192.168.0.12
  - name: node3
    address: 192.168.0.13

  # Which hosts do what: lists of host names; ranges like node[2:3] or node[01:10]
  # (zero padding kept, both ends included). Every host must be in at least one group.
  # In a [...] list a range must be quoted: worker: ["node[2:3]"].
  roleGroups:
    master: [node1]           # at least one; with more than one set controlPlaneEndpoint
    worker:
    - node[2:3]
    etcd: [node1]             # required unless etcd.type is external
    loadbalancer: []          # hosts for an external keepalived load balancer
    registry: []              # hosts for a private image registry

  # Defaults inherited by every host, and how kubexms talks to the fleet.
  global:
    user: root
    port: 22
    privateKeyPath: ~/.ssh/id_ed25519  # or password / privateKey (at most one)
    # sudoPassword: $${SUDO_PASSWORD}
    # bastion: {address: 192.168.0.2, user: jump}  # default jump host for all hosts
    connectionTimeout: 30     # seconds allowed for connecting to all hosts
    commandTimeout: 600       # default seconds per command
    connectConcurrency: 64    # simultaneous SSH handshakes
    concurrency: 50           # hosts worked on at once
    # workDir: ./.kubexms/$name  # local state (certificates, artifacts); this is the default
    hostKeyPolicy: strict     # strict | accept-new (trust on first use, recorded) | off
    knownHostsPath: ~/.ssh/known_hosts
    keepaliveInterval: 15     # seconds between SSH keepalives; 0 turns them off
    keepaliveCountMax: 2      # unanswered keepalives before a host counts as lost
    stopGrace: 5              # seconds between TERM and KILL for a stopped remote command

  # How clients reach the API server. Required (domain or address) with several masters.
  controlPlaneEndpoint:
    domain: lb.kubexms.local  # name put in certificates and kubeconfigs
    address: ""               # virtual IP for external/kube-vip load balancers
    port: 6443
    loadBalancer:
      type: none              # internal (haproxy/nginx on every node) | external
                              # (keepalived + haproxy/nginx on loadbalancer hosts) | kube-vip | none
      kind: haproxy           # haproxy | nginx
      interface: ""           # external, kube-vip: NIC for the virtual IP (default: the one
                              # holding the host's internal address)
      # virtualRouterId: 51   # external: VRRP id, unique on the network (default from the name)

  kubernetes:
    type: kubeadm             # kubeadm (static pods) | kubexm (binaries under systemd)
    version: $kubernetes_version
    clusterName: kubernetes
    dnsDomain: cluster.local
    containerRuntime:
      type: containerd
      version: $containerd_version
    apiServer:
      certSANs: []            # extra names/IPs in the API server certificate
      extraArgs: {}           # extra flags, e.g. {audit-log-maxage: "30"}
    controllerManager:
      extraArgs: {}
    scheduler:
      extraArgs: {}
    kubelet:
      extraArgs: {}           # e.g. {max-pods: "110"}
      config: {}              # KubeletConfiguration fields, e.g. {maxPods: 200}
    kubeProxy:
      mode: iptables          # iptables | ipvs
      extraArgs: {}
    certificates:             # the PKI kubexms makes on this machine
      caValidityDays: 3650
      # leafValidityDays: 365 # default 365; at most 365 with type kubeadm
      keyType: rsa            # rsa (2048 bits) | ecdsa (P-256)
      renewBeforeDays: 30     # renew certificates expiring within this many days

  etcd:
    type: kubexm              # kubexm (binaries under systemd on etcd hosts) |
                              # kubeadm (static pods on the masters) | external
    version: $etcd_version
    dataDir: /var/lib/etcd    # 0700 on the etcd hosts; a foreign cluster's data is refused
    heartbeatInterval: 250    # ms between leader heartbeats
    electionTimeout: 5000     # ms; at least 5 x heartbeatInterval, at most 50000
    quotaBackendBytes: 2147483648  # database size limit (at most 8 GiB)
    autoCompactionRetention: "8"   # hours (a bare number) or a duration such as 30m
    snapshotCount: 10000      # committed transactions between snapshots
    extraArgs: {}             # more etcd flags, without dashes: {max-request-bytes: 1572864}
    backup:                   # scheduled snapshots on every etcd host (a systemd timer)
      # schedule: daily       # systemd OnCalendar; unset: no scheduled backups
      keep: 7                 # snapshots kept per host
      dir: /var/backups/etcd
    # external:               # only for type external
    #   endpoints: [https://10.0.0.5:2379]
    #   caFile: /etc/ssl/etcd/ca.pem
    #   certFile: /etc/ssl/etcd/client.pem
    #   keyFile: /etc/ssl/etcd/client-key.pem

  network:
    plugin: calico            # calico | flannel | cilium
    kubePodsCIDR: 10.233.64.0/18     # pod addresses; must not overlap the services'
    kubeServiceCIDR: 10.233.0.0/18   # service addresses
    # calico:                 # settings of the plugin in use only
    #   mode: vxlan           # vxlan | ipip | none (routed with BGP, no encapsulation)
    #   mtu: 0                # MTU of pod interfaces; 0 lets Calico detect it
    # flannel:
    #   backend: vxlan        # vxlan | host-gw | wireguard
    # cilium:
    #   kubeProxyReplacement: false

  registry:
    mirrors: []               # docker.io mirrors, e.g. [https://mirror.example.com]
    privateRegistry: ""       # pull every image from here, e.g. registry.example.com:5000
    insecureRegistries: []    # registries reached over plain HTTP or untrusted TLS
    auths: {}                 # logins by registry host:
    # auths:
    #   registry.example.com:5000:
    #     username: admin
    #     password: $${REGISTRY_PASSWORD}

  # Installed once the cluster is up, in order.
  addons: []
  # addons:
  # - name: metrics-server
  #   type: helm              # helm | manifest
  #   namespace: kube-system
  #   chart: metrics-server
  #   repo: https://kubernetes-sigs.github.io/metrics-server/
  #   version: 3.12.2         # required with repo; a local chart is a path: charts/app-1.0.0.tgz
  #   values: {args: [--kubelet-insecure-tls]}   # applied after valuesFiles
  #   valuesFiles: []         # files on this machine, in order
  #   timeout: 300            # seconds helm waits for the release
  # - name: extras
  #   type: manifest
  #   manifests:              # applied server-side, in order
  #   - files/extras.yaml     # a file on this machine, or a URL pinned by its sha256:
  #   - {url: https://example.com/x.yaml, sha256: <the file's sha256>}

  # Binaries (kubeadm, etcd, containerd, ...) are downloaded on this machine, checked against
  # pinned sha256s, and sent to the hosts that need them. All optional.
  artifacts:
    # mirror: file:///srv/kubexms-artifacts  # a copy of another machine's artifacts/ directory
    urlRewrites: {}           # upstream URL prefix -> proxy, e.g. {https://dl.k8s.io/: https://proxy/k8s/}
    # offlineBundle: kubexms-artifacts.tar.gz  # import this bundle instead of downloading
    overrides: {}             # per component: version, url, sha256: {amd64: ..., arm64: ...}
    downloadConcurrency: 4
    uploadConcurrency: 8
    remoteDir: /opt/kubexms/artifacts  # where files land on hosts

  # OS packages the nodes need (socat, conntrack, ipset, ...). auto: hosts that reach their
  # package repositories install from them; the others get packages downloaded on this
  # machine (apt-get download) and carried over. repositories | offline: one way for all.
  osPackages:
    source: auto              # auto | repositories | offline
    # dir: ./packages         # package files on this machine (default <workDir>/packages/deb)
  #   values: {args: [--kubelet-insecure-tls]}
  # - name: my-app
  #   type: manifest
  #   manifests: [./manifests/app.yaml, https://example.com/app.yaml]
""")


def scaffold_config(name: str = "demo") -> str:
    """A fully commented cluster.yaml for a three-host cluster named ``name``.

    The text parses with `parse_config` as is; raises `ConfigError` if ``name`` is not a
    valid cluster name.
    """
    from kubexms.config._loader import parse_config  # the loader imports the models we describe

    text = _SCAFFOLD.substitute(
        name=name,
        kubernetes_version=DEFAULT_KUBERNETES_VERSION,
        containerd_version=DEFAULT_CONTAINERD_VERSION,
        etcd_version=DEFAULT_ETCD_VERSION,
    )
    parse_config(text, source="<scaffold>")
    return text
