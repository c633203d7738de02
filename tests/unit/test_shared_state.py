"""The one place that reaches into PTB's private state (bot/telegram/shared_state.py) still fits PTB."""

from __future__ import annotations

from telegram import Chat, Message, Update, User
from telegram.ext._utils.trackingdict import TrackingDict

from bot.telegram.shared_state import conversation_key, conversation_states
from handlers.forms import ASKING, forms_conversation


def _update(chat_id: int, user_id: int) -> Update:
    user = User(user_id, "Alice", is_bot=False)
    message = Message(1, date=None, chat=Chat(chat_id, Chat.PRIVATE), from_user=user, text="hi")  # type: ignore[arg-type]
    return Update(1, message=message)


def test_a_state_set_through_the_private_dict_is_what_the_handler_sees() -> None:
    handler = forms_conversation()
    handler._conversations = TrackingDict()  # what Application.initialize() installs with a persistence
    update = _update(5, 1001)
    key = conversation_key(handler, update)
    assert key == (5, 1001)
    states = conversation_states(handler)
    states[key] = ASKING
    # PTB reads the state from the same dict when it checks an update (its TrackingDict's .data).
    assert handler._conversations.get(key) == ASKING
    assert handler.check_update(update) is not None  # a text answer is taken only while ASKING
    states.pop(key)
    assert key not in handler._conversations
    assert handler._conversations.pop_accessed_keys() == set()  # nothing marked for writing back
