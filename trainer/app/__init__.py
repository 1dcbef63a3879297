"""The composition root: the `vqa` command, its flags and presets, and the demo. The only code that imports beam_pipelines and tuning."""
