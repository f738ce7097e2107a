import kitaru
from kitaru import checkpoint, flow

@checkpoint
def research(topic: str) -> str:
    return kitaru.llm(prompt=f"Research: {topic}. Return a brief.", model="fast")

@checkpoint
def draft(brief: str) -> str:
    return kitaru.llm(prompt=f"Write a draft from this brief:\n{brief}", model="fast")

@flow
def review_flow(topic: str) -> str:
    brief = research(topic)
    text = draft(brief)
    approved = kitaru.wait(name="approve_draft", question="Approve draft?", schema=bool)
    return text if approved else "Rejected"

review_flow.run(topic="Durable agents").wait()
