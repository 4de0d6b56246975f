"""Calibration of the machine the simulator runs on, and validation against measurements.

* :mod:`~simulator.calibration.harness`: timing harness (repeated runs, medians, interference);
* :mod:`~simulator.calibration.session`: ONNX Runtime sessions;
* :mod:`~simulator.calibration.roofs`: this machine's measured peaks, bandwidths and caches;
* :mod:`~simulator.calibration.kernel_cases`: single-operator models that span each kernel class;
* :mod:`~simulator.calibration.fit`: fitting the engine's own efficiency model to measured times;
* :mod:`~simulator.calibration.calibrate`: all of the above into a device profile;
* :mod:`~simulator.calibration.validate`: a model's measured latency against the predictions.

Needs ONNX Runtime (the ``validate`` extra).
"""
