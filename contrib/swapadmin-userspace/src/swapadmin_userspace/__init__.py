"""swapadmin's user-space backend kind, in a distribution of its own.

It is loaded the way any third party's kind is, through the ``swapadmin.backends`` entry
point of this distribution's metadata (``swapadmin_userspace.plugin:UserspaceBackend``);
nothing in swapadmin names it. README.md says what it does and what is not built yet.
"""
