"""The cluster a command works on when no cluster file is given: this machine alone."""

from __future__ import annotations

# Through the local connector (no SSH to itself).
LOCAL_CLUSTER_YAML = """\
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata:
  name: local
spec:
  hosts:
    - name: localhost
      address: 127.0.0.1
      connector: local
  roleGroups:
    master: [localhost]
    etcd: [localhost]
    worker: [localhost]
"""
