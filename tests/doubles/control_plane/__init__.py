"""Doubles of kube-controller-manager, kube-scheduler and kube-proxy (tests only).

Standard library and Debian's python3-yaml only, run by /usr/bin/python3 (tests/doubles/README.md).
``common`` is what all three share; ``components`` what each one checks and serves; ``main``
picks the component by name; ``build`` makes the release file tests put in the artifact store.
"""
