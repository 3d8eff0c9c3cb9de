"""medassist: LoRA fine-tuning of a small chat LLM into a medical question-answering assistant.

Modules follow the pipeline: config -> data -> prompts -> models -> train -> evaluate -> chat -> cli.
"""

__version__ = "0.1.0"
