"""The seed's review_flow, shaped exactly like DESIGN.md §1.

Until the LLM gateway lands, the two checkpoints write plain Python text instead of calling
``kitaru.llm()``; everything else (two checkpoints, an approval wait, run at top level) is the
seed program.
"""

import kitaru
from kitaru import checkpoint, flow


@checkpoint
def research(topic: str) -> str:
    return f"Brief on {topic}: durable execution keeps agents' work across crashes."


@checkpoint
def draft(brief: str) -> str:
    return f"Draft based on the brief.\n{brief}\nConclusion: checkpoint everything expensive."


@flow
def review_flow(topic: str) -> str:
    brief = research(topic)
    text = draft(brief)
    approved = kitaru.wait(name="approve_draft", question="Approve draft?", schema=bool)
    return text if approved else "Rejected"


review_flow.run(topic="Durable agents").wait()
