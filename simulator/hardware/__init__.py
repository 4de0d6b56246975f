"""Hardware: device models (pydantic, SI units), the profile loader, and the shipped data files.

* :mod:`~simulator.hardware.device`: :class:`~simulator.hardware.device.Device`, its memory levels,
  energy table and efficiency model;
* :mod:`~simulator.hardware.runtime`: another software runtime on the same device, as factors on its
  efficiency model's compute fractions (``DEVICE@RUNTIME``);
* :mod:`~simulator.hardware.loader`: reading TOML/JSON profiles (friendly units converted to SI
  once), the shipped profiles by name (``hardware_profiles/``, installed as
  ``simulator.hardware_profiles``).
"""
