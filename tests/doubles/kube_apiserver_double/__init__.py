"""The kube-apiserver test double's modules (stdlib only: it runs on fleet hosts under
``/usr/bin/python3``). ``tests/doubles/kube_apiserver.py`` is its entry point."""
