"""Padding-free training on CPU: attention per example inside a packed row, and the LM head on answer positions only.

TRL's padding-free collator concatenates a batch's examples into one row with `position_ids` restarting
at 0 and the example bounds in `cu_seq_lens_q`. `packed_sdpa_attention` runs causal SDPA example by
example from those bounds: no pad tokens, and no attention across examples (a block-diagonal mask over
the whole row would compute, then discard, most of an L x L score matrix). `AnswerOnlySFTTrainer`
projects only the positions that predict answer tokens through the LM head; the prompt (system prompt
+ question, and sources when grounded) is most of each example.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
from trl import SFTTrainer

PACKED_ATTENTION = "sdpa_packed"


def packed_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    cu_seq_lens_q: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Causal SDPA per example inside a padding-free row; any other input goes to plain SDPA.

    The bounds come from TRL's padding-free collator (`cu_seq_lens_q`, the flash-attention varlen format).
    Per-example calls cost sum(l_i^2) attention work instead of L^2 for the whole row.
    """
    packed_row = (
        cu_seq_lens_q is not None and query.shape[0] == 1 and query.shape[2] == key.shape[2] == int(cu_seq_lens_q[-1])
    )
    if not packed_row:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    bounds = cu_seq_lens_q.tolist()
    pieces = [
        sdpa_attention_forward(module, query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], None, **kwargs)[0]
        for a, b in zip(bounds[:-1], bounds[1:])
    ]
    return torch.cat(pieces, dim=1), None  # SDPA returns (batch, seq, heads, head_dim)


def use_packed_attention(model: PreTrainedModel) -> PreTrainedModel:
    """Switch `model` to `packed_sdpa_attention`, registered with transformers here (idempotent), not at import."""
    AttentionInterface.register(PACKED_ATTENTION, packed_sdpa_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(PACKED_ATTENTION, sdpa_mask)  # the mask for the plain-SDPA fallback
    model.set_attn_implementation(PACKED_ATTENTION)
    return model


class AnswerOnlySFTTrainer(SFTTrainer):
    """SFTTrainer whose LM head projects only the positions that predict an answer token.

    TRL's fused head scores every position unless Triton runs it (not on CPU) and recomputes the projection in
    backward. Here the model returns logits for the answer positions only (`logits_to_keep`) and the loss is
    their summed cross-entropy over the number of answer tokens in the optimizer step, as in TRL.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        targets = inputs.pop("labels")[:, 1:]  # the logits at position i predict token i + 1
        keep = (targets != -100).any(dim=0).nonzero().flatten()
        outputs = model(**inputs, logits_to_keep=keep, use_cache=False)
        targets = targets[:, keep]
        loss = F.cross_entropy(
            outputs.logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum"
        )
        count = (targets != -100).sum() if num_items_in_batch is None else num_items_in_batch
        loss = loss / torch.as_tensor(count, device=loss.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # the count spans all ranks and DDP averages gradients
        return (loss, outputs) if return_outputs else loss
