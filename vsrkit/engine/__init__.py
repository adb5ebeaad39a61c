"""Engine: streaming inference (``infer``, ``upscale``) and, later, the training loop and recipes."""
