"""newsrag as a LangChain developer embeds it (issue 10): streaming that callbacks, run ids, tags and
``astream_events(v2)`` see (extractive and with a fake chat model), addable chunks that keep piping and
``RunnableParallel`` working, the typed input and ``as_tool()``, message-object history and
``RunnableWithMessageHistory``, and ``NewsragRetriever``'s exact spans, filters and abstention."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
import warnings
from typing import Any

import pytest
from chain_helpers import BORDERS, assert_valid, corpus_chain, number_of, offered, with_llm
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnableParallel, RunnablePassthrough

from newsrag import NewsragRetriever, QueryError
from newsrag.rag.chain import NewsragChain
from newsrag.rag.models import Answer, AnswerChunk, NewsragInput

FOLLOW_UP = "Did he say anything about troops?"
UNANSWERED = "What is the capital of France?"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> NewsragChain:
    return corpus_chain(tmp_path_factory.mktemp("langchain-home"))


class Recorder(BaseCallbackHandler):
    """Every chain, chat-model and token callback, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: uuid.UUID, **kw: Any) -> None:
        self.events.append({"event": "chain_start", "run_id": run_id, "name": kw.get("name"), "tags": kw.get("tags")})

    def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kw: Any) -> None:
        self.events.append({"event": "chain_end", "run_id": run_id, "output": outputs})

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: uuid.UUID, **kw: Any) -> None:
        self.events.append({"event": "chat_start", "run_id": run_id, "parent": kw.get("parent_run_id"), "messages": messages})

    def on_llm_new_token(self, token: Any, *, run_id: uuid.UUID, **kw: Any) -> None:
        self.events.append({"event": "token", "run_id": run_id, "token": token})

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def llm_chain(chain: NewsragChain) -> NewsragChain:
    """The chain answering with a fake chat model that cites the border sentence."""
    n = number_of(offered(chain, BORDERS), "pre-2014 borders is unrealistic")
    return with_llm(chain, f"Hegseth called a return to pre-2014 borders unrealistic [{n}].")


def added(chunks: list[AnswerChunk]) -> AnswerChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


# -- streaming through LangChain's callbacks --------------------------------------------------------
def test_stream_reports_the_chain_run_with_its_run_id_and_tags(chain: NewsragChain) -> None:
    rec = Recorder()
    run_id = uuid.uuid4()
    chunks = list(chain.stream({"question": BORDERS}, {"callbacks": [rec], "tags": ["mine"], "run_id": run_id}))
    start, end = rec.of("chain_start"), rec.of("chain_end")
    assert [(e["name"], e["run_id"]) for e in start] == [("NewsragChain", run_id)]
    assert "mine" in start[0]["tags"]
    assert [e["run_id"] for e in end] == [run_id]
    # the run's output is the chunks added up: the answer invoke gives
    traced = end[0]["output"]
    assert isinstance(traced, AnswerChunk) and traced.final
    assert traced.to_answer().model_dump(exclude={"timings_ms"}) == added(chunks).to_answer().model_dump(exclude={"timings_ms"})
    assert traced.answer == chain.invoke({"question": BORDERS}).answer


def test_streaming_with_a_chat_model_shows_the_model_under_the_chain(chain: NewsragChain) -> None:
    rec = Recorder()
    chunks = list(llm_chain(chain).stream({"question": BORDERS}, {"callbacks": [rec]}))
    chain_run = rec.of("chain_start")[0]["run_id"]
    chats = rec.of("chat_start")
    assert len(chats) == 1 and chats[0]["parent"] == chain_run  # the model's run is a child of the chain's
    assert "pre-2014 borders" in chats[0]["messages"][0][1].content  # what the model was shown
    tokens = rec.of("token")
    assert tokens and {t["run_id"] for t in tokens} == {chats[0]["run_id"]}
    assert "".join(t["token"] for t in tokens).startswith("Hegseth called")
    total = added(chunks)
    assert total.backend == "llm" and total.answer.endswith("[1].") and len(total.citations) == 1
    assert_valid(total.to_answer(), chain.store)


def test_invoke_passes_callbacks_to_the_model_too(chain: NewsragChain) -> None:
    rec = Recorder()
    answer = llm_chain(chain).invoke({"question": BORDERS}, {"callbacks": [rec]})
    assert answer.backend == "llm"
    assert rec.of("chat_start")[0]["parent"] == rec.of("chain_start")[0]["run_id"]


async def _events(runnable: Any, inp: Any) -> list[dict[str, Any]]:
    return [e async for e in runnable.astream_events(inp, version="v2")]


def test_astream_events_v2_shows_the_chain_stream(chain: NewsragChain) -> None:
    events = asyncio.run(_events(chain, {"question": BORDERS}))
    mine = [e for e in events if e["name"] == "NewsragChain"]
    kinds = [e["event"] for e in mine]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    streamed = [e["data"]["chunk"] for e in mine if e["event"] == "on_chain_stream"]
    assert len(streamed) >= 3 and all(isinstance(c, AnswerChunk) for c in streamed)
    assert added(streamed).answer == chain.invoke({"question": BORDERS}).answer


def test_astream_events_v2_shows_the_chat_models_tokens(chain: NewsragChain) -> None:
    events = asyncio.run(_events(llm_chain(chain), {"question": BORDERS}))
    chain_run = next(e["run_id"] for e in events if e["event"] == "on_chain_start" and e["name"] == "NewsragChain")
    tokens = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert tokens and all(chain_run in e["parent_ids"] for e in tokens)
    assert "".join(e["data"]["chunk"].content for e in tokens).startswith("Hegseth called")
    assert any(e["event"] == "on_chat_model_end" for e in events)
    final = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream" and e["name"] == "NewsragChain"]
    assert added(final).backend == "llm"


def test_astream_yields_the_chunks_stream_does(chain: NewsragChain) -> None:
    async def collect() -> list[AnswerChunk]:
        return [c async for c in chain.astream({"question": BORDERS})]

    asynced = added(asyncio.run(collect()))
    synced = added(list(chain.stream({"question": BORDERS})))
    assert asynced.to_answer().model_dump(exclude={"timings_ms"}) == synced.to_answer().model_dump(exclude={"timings_ms"})


# -- addable chunks -------------------------------------------------------------------------------
def test_chunks_add_up_to_the_answer() -> None:
    first, second = AnswerChunk(answer="Hegseth said "), AnswerChunk(answer="it [1].")
    final = AnswerChunk(question="Q?", abstained=False, backend="llm", final=True)
    total = first + second + final
    assert total.answer == "Hegseth said it [1]." and total.final and total.question == "Q?" and total.backend == "llm"
    assert isinstance(total, Answer) and isinstance(total.to_answer(), Answer) and not isinstance(total.to_answer(), AnswerChunk)
    with pytest.raises(TypeError):
        first + "text"


def test_piping_and_parallel_keep_working_while_streaming(chain: NewsragChain) -> None:
    invoked = chain.invoke({"question": BORDERS})
    counted = chain | RunnableLambda(lambda a: (len(a.citations), a.answer))
    assert list(counted.stream({"question": BORDERS})) == [(len(invoked.citations), invoked.answer)]
    assert counted.invoke({"question": BORDERS}) == (len(invoked.citations), invoked.answer)

    both = RunnableParallel(answer=chain, asked=RunnableLambda(lambda x: x["question"]))
    parts = list(both.stream({"question": BORDERS}))
    assert len(parts) >= 4  # the chain's chunks arrive as they form, not as one item
    total: Any = parts[0]
    for p in parts[1:]:
        total = total + p
    assert total["asked"] == BORDERS
    assert total["answer"].answer == invoked.answer and total["answer"].citations == invoked.citations


# -- typed input and as_tool ----------------------------------------------------------------------
def test_input_schema_documents_every_field(chain: NewsragChain) -> None:
    schema = chain.get_input_jsonschema()
    assert set(schema["properties"]) == {"question", "history", "filters", "k"}
    assert schema["required"] == ["question"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    filters = schema["$defs"]["QueryFilters"]["properties"]
    assert set(filters) == {"since", "until", "sources", "article_ids"}
    assert all(p.get("description") for p in filters.values())
    assert chain.input_schema is NewsragInput and chain.get_output_jsonschema()["title"] == "Answer"


def test_as_tool_works_from_its_schema_alone(chain: NewsragChain) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as_tool is marked beta by LangChain
        tool = chain.as_tool()
    assert tool.name == "newsrag" and "citations" in tool.description
    assert set(tool.args) == {"question", "history", "filters", "k"}
    # what a model sends: arguments per the schema, in a tool call
    args = {"question": BORDERS, "filters": {"since": "2025-01-01"}}
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call-1"
    assert isinstance(message.content, str)
    answer = Answer.model_validate(json.loads(message.content))  # JSON the model can read
    assert not answer.abstained and any("pre-2014 borders" in c.quote for c in answer.citations)
    assert_valid(answer, chain.store)
    follow = tool.invoke({"question": FOLLOW_UP, "history": [{"role": "user", "content": BORDERS}]})  # called directly: the dict
    assert follow["rewritten_question"] and "Hegseth" in follow["rewritten_question"]
    with pytest.raises(ValueError, match="filters.since '2025-02-30' is not a real YYYY-MM-DD date"):
        tool.invoke({"question": BORDERS, "filters": {"since": "2025-02-30"}})


# -- history --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "history",
    [
        [BORDERS],
        [HumanMessage(BORDERS), AIMessage("One article addresses this ... [1]")],
        [("human", BORDERS), ("ai", "One article addresses this ... [1]")],
        [("user", BORDERS), ("assistant", "...")],
        [{"role": "user", "content": BORDERS}],
        [HumanMessage(content=[{"type": "text", "text": BORDERS}])],
    ],
    ids=["strings", "messages", "tuples", "user-assistant", "dicts", "content-blocks"],
)
def test_history_takes_strings_messages_and_role_pairs(chain: NewsragChain, history: list[Any]) -> None:
    answer = chain.invoke({"question": FOLLOW_UP, "history": history})
    assert answer.rewritten_question == chain.invoke({"question": FOLLOW_UP, "history": [BORDERS]}).rewritten_question
    assert answer.rewritten_question and "Hegseth" in answer.rewritten_question
    assert_valid(answer, chain.store)


def test_only_human_turns_restate_a_follow_up(chain: NewsragChain) -> None:
    answer = chain.invoke({"question": FOLLOW_UP, "history": [AIMessage(BORDERS)]})
    assert answer.rewritten_question is None  # an assistant's turn is not a question that was asked


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([("wizard", "hi")], r"history\[0\] has role 'wizard'; allowed: ai, assistant"),
        ([42], r"history\[0\] is 42; a turn is a string, a LangChain message"),
        ([("human", 7)], r"history\[0\] has content 7; the text of a turn must be a string"),
        ("not a list", "'history' must be a list of earlier turns"),
    ],
)
def test_bad_history_names_the_turn(chain: NewsragChain, history: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        chain.invoke({"question": FOLLOW_UP, "history": history})


def test_chain_under_runnable_with_message_history(chain: NewsragChain) -> None:
    histories: dict[str, InMemoryChatMessageHistory] = {}

    def session(session_id: str) -> InMemoryChatMessageHistory:
        return histories.setdefault(session_id, InMemoryChatMessageHistory())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain marks RunnableWithMessageHistory as deprecated
        talk = chain.with_message_history(session)
        config: RunnableConfig = {"configurable": {"session_id": "s1"}}
        first = talk.invoke({"question": BORDERS}, config)
        second = talk.invoke({"question": FOLLOW_UP}, config)
        streamed = list(talk.stream({"question": "What about NATO membership?"}, config))
    assert not first["answer"].abstained and first["message"].content == first["answer"].answer
    assert second["answer"].rewritten_question and "Hegseth" in second["answer"].rewritten_question
    assert_valid(second["answer"], chain.store)
    messages = histories["s1"].messages
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage"] * 3
    assert messages[0].content == BORDERS and messages[1].content == first["answer"].answer
    assert messages[1].response_metadata["citations"][0]["quote"] == first["answer"].citations[0].quote
    total = streamed[0]
    for part in streamed[1:]:
        total = total + part
    assert isinstance(total["answer"], AnswerChunk) and total["message"].content == total["answer"].answer
    assert messages[-1].content == total["answer"].answer
    assert "s2" not in histories and not chain.invoke({"question": FOLLOW_UP}).rewritten_question


# -- errors and JSON ------------------------------------------------------------------------------
def test_query_error_is_a_value_error_and_answers_dump_to_json(chain: NewsragChain) -> None:
    with pytest.raises(ValueError, match="'question' must be a non-empty string"):
        chain.invoke({"question": "  "})
    answer = chain.invoke({"question": BORDERS})
    assert any(c.date == dt.date(2025, 2, 12) for c in answer.citations)
    text = json.dumps(answer.model_dump(mode="json"))  # dates become ISO strings
    assert '"date": "2025-02-12"' in text
    assert Answer.model_validate(json.loads(text)) == answer


# -- the retriever --------------------------------------------------------------------------------
def test_retriever_documents_are_exact_quotes(chain: NewsragChain) -> None:
    retriever = NewsragRetriever(chain=chain)
    docs = retriever.invoke(BORDERS)
    cited = chain.invoke({"question": BORDERS}).citations
    assert [d.page_content for d in docs] == [c.quote for c in cited]  # the quotes the chain cites, in order
    articles = chain.store.get_articles([d.metadata["article_id"] for d in docs])
    for d in docs:
        m = d.metadata
        assert articles[m["article_id"]].text[m["start"] : m["end"]] == d.page_content
        assert set(m) >= {"article_id", "title", "url", "source", "date", "headline", "section", "start", "end", "score"}
        assert m["title"] == articles[m["article_id"]].title
        assert isinstance(m["date"], str) and dt.date.fromisoformat(m["date"]) == articles[m["article_id"]].date
        assert 0 < m["score"] <= 1
    assert docs[0].metadata["headline"] == "Returning to Ukraine's Pre-2014 Borders Unrealistic Objective"


def test_retriever_abstains_and_honours_filters(chain: NewsragChain) -> None:
    assert chain.invoke({"question": UNANSWERED}).abstained
    assert NewsragRetriever(chain=chain).invoke(UNANSWERED) == []
    assert NewsragRetriever(chain=chain, filters={"since": "2026-01-01"}).invoke(BORDERS) == []
    sputnik = NewsragRetriever(chain=chain, filters={"sources": ["sputnikglobe.com"]}, k=3).invoke(BORDERS)
    assert sputnik and {d.metadata["source"] for d in sputnik} == {"sputnikglobe.com"}
    with pytest.raises(QueryError, match="unknown filter"):
        NewsragRetriever(chain=chain, filters={"colour": "red"}).invoke(BORDERS)


def test_retriever_in_a_retrieval_chain_with_a_chat_model(chain: NewsragChain) -> None:
    """The README's example: retriever | format | prompt | chat model (here a fake one)."""
    retriever = NewsragRetriever(chain=chain)
    model = FakeListChatModel(responses=["Hegseth called the pre-2014 borders unrealistic [1]."])
    seen = Recorder()

    def format_quotes(docs: list[Document]) -> str:
        return "\n".join(f"[{i}] {d.page_content} ({d.metadata['title']}, {d.metadata['date']})" for i, d in enumerate(docs, 1))

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer only from these quotes and cite them by number:\n{context}"), ("human", "{input}")]
    )
    rag = RunnablePassthrough.assign(context=(lambda x: x["input"]) | retriever).assign(
        answer=RunnablePassthrough.assign(context=lambda x: format_quotes(x["context"])) | prompt | model
    )
    out = rag.invoke({"input": BORDERS}, {"callbacks": [seen]})
    assert out["answer"].content.startswith("Hegseth called")
    assert out["context"] and all(isinstance(d, Document) for d in out["context"])
    system = seen.of("chat_start")[0]["messages"][0][0].content
    assert out["context"][0].page_content in system  # the model was shown the exact quotes
