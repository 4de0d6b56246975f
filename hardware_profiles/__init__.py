"""Device and energy-table data files shipped with the simulator (TOML; JSON is accepted too).

Installed as ``simulator.hardware_profiles``; read through :mod:`simulator.hardware.loader`."""
