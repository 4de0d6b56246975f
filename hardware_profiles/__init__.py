"""Device and energy-table data files shipped with the simulator (TOML; JSON is accepted too)."""
