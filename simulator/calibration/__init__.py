"""Calibration of the machine the simulator runs on, and validation against measurements.

* :mod:`~simulator.calibration.harness`: timing harness (repeated runs, medians, interference) and
  what machine this is (cores, caches, memory);
* :mod:`~simulator.calibration.session`: ONNX Runtime sessions and their profiler's kernel times;
* :mod:`~simulator.calibration.microbench`: micro-benchmarks of peaks and bandwidths;
* :mod:`~simulator.calibration.roofs`: this machine's roofs, and the device profile file that holds them;
* :mod:`~simulator.calibration.kernel_cases`: single-operator models that span each kernel class;
* :mod:`~simulator.calibration.fit`: fitting the engine's own efficiency model to measured times;
* :mod:`~simulator.calibration.calibrate`: all of the above into a device profile;
* :mod:`~simulator.calibration.validate`: a model's measured latency against the predictions.

Imports go one way: harness <- session <- microbench <- roofs <- calibrate; fit needs only the
engine. Needs ONNX Runtime, SciPy (the fit) and tomli-w (writing profiles): the ``validate`` extra.
"""
