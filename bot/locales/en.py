"""English texts. Every key here must exist in every other language with the same placeholders."""

MESSAGES: dict[str, str] = {
    # Start and help
    "start": (
        "Hi {name}! I make music with AI.\n\n"
        "• /generate <description> — a song from a few words, e.g. /generate a calm lo-fi song about rain\n"
        "• /custom — your own title, style and lyrics (or an instrumental)\n"
        "• Send me an audio file to cover it, extend it, add vocals or add an instrumental\n"
        "• /status — your recent songs\n\n"
        "I keep one message per song up to date while it is made, then send you the tracks."
    ),
    "help": (
        "How to use me:\n\n"
        "/generate <description> — a song from a description (up to 500 characters)\n"
        "/custom — title, style and lyrics, one question at a time\n"
        "Send an audio file (MP3, M4A, WAV, OGG, or a voice note; up to 20 MB) — then choose "
        "Cover, Extend, Add vocals or Add instrumental\n"
        "Extend under any song I sent — continue that song\n"
        "/sound <description> — a sound effect, loop or ambience (options: loop=yes, bpm=90, key=C#m)\n"
        "/lyrics <idea> — lyrics written for you; Use these makes a song of them\n"
        "/mashup — mix two songs (files you send or your tracks) into a new one\n"
        "More… under any song I sent — its lyrics, stems, WAV, video or a persona\n"
        "/status — your recent songs and where they are\n"
        "/language — choose the language I speak\n"
        "/cancel — leave any question\n"
        "/forget — delete what I keep about you"
    ),
    "commands.start": "What I can do",
    "commands.generate": "Make a song from a description",
    "commands.custom": "Make a song from your lyrics and style",
    "commands.status": "Your recent songs",
    "commands.language": "Choose the language",
    "commands.help": "How to use the bot",
    "commands.cancel": "Leave the current question",
    "commands.credits": "Provider balance (admins)",
    "commands.stats": "Usage today (admins)",
    # Operator: the bot's profile texts (set at start-up) and the /broadcast menu entry
    "commands.broadcast": "Message everyone who uses the bot (admins)",
    "bot.description": (
        "I make songs with AI. Describe one in a few words, give me your lyrics and a style, or send me "
        "an audio file to cover or extend it. Press Start to begin."
    ),
    "bot.short_description": "Songs made with AI from a few words, your lyrics or your own audio.",
    # Privacy: /forget
    "commands.forget": "Delete what I keep about you",
    "privacy.confirm": "This deletes what I keep about you: your descriptions and lyrics, your songs' "
    "details, the audio you sent, any open question and your settings. Only counts without content "
    "stay (how many songs were made each day). Messages in this chat stay in Telegram; you can delete "
    "them there. Delete it now?",
    "privacy.yes": "Delete my data",
    "privacy.no": "Keep it",
    "privacy.done": "Done: I deleted what I kept about you (songs: {tasks}, audio files: {uploads}). "
    "Write to me any time to start afresh.",
    "privacy.kept": "Nothing was deleted.",
    "privacy.busy": "A song of yours is still being made. Please wait until it is done, then send /forget "
    "again.",
    "privacy.private_only": "Please send /forget in our private chat, so that only you can confirm it.",
    # Generate
    "form.need_text": "Please answer with text or one of the buttons, or /cancel.",
    "cancelled": "Cancelled. Send /generate or an audio file whenever you like.",
    "nothing_to_cancel": "There is nothing to cancel.",
    # Audio intake
    "intake.accepted": "Got your audio ({length}). What should I do with it?",
    "intake.too_big": "This file is {size} MB; bots can only download files up to {limit} MB. "
    "Please send a shorter or more compressed version (an MP3 at 128 kbps is about 1 MB a minute).",
    "intake.format": "I can't read this file as audio. Please send an MP3, M4A, WAV, FLAC or OGG file, "
    "or a voice note.",
    "intake.too_short": "This audio is shorter than a second. Please send a longer recording.",
    "intake.too_long": "{action} takes audio up to {limit} long; this one is {length}. "
    "Please trim it and send it again.",
    "intake.short_warning": "Heads-up: this clip is only {seconds} s long. Clips under 10 seconds may give "
    "limited results.",
    "intake.expired": "That file is no longer available. Please send it again.",
    "action.cover": "Cover",
    "action.upload_extend": "Extend",
    # Audio intake limits: the longest audio any task takes, one file at a time, a daily number
    "action.any": "This bot",
    "intake.one_at_a_time": "I'm still working on your previous file. Please wait for my answer about it, "
    "then send the next one.",
    "intake.daily": "You have sent {limit} audio files today, the daily limit. Come back tomorrow!",
    # Question flows
    "form.ask_description": "Describe the song you want in a sentence or two (up to 500 characters), "
    "or /cancel.",
    "form.ask_style": "Which style? For example: dreamy synth-pop, female vocals, 90 bpm.",
    "form.ask_title": "What is the title?",
    "form.ask_lyrics": "Send the lyrics, or press Instrumental for no vocals.",
    "form.ask_vocal_lyrics": "Send the lyrics to sing over your track.",
    "form.ask_avoid": "Any styles to avoid? Send them, or press the button.",
    "form.ask_continue_at": "From which second should it continue? The audio is {duration} s long: send "
    "seconds (like 75) or minutes:seconds (like 1:15).",
    "form.ask_model": "Which model?",
    "form.use_title": "Use “{title}”",
    "form.same_style": "Same style",
    "form.instrumental": "Instrumental",
    "form.avoid_default": "Just avoid: {tags}",
    "form.from_end": "From the end ({seconds} s)",
    "form.model": "{model}",
    "form.model_choose": "Please choose one of: {models}.",
    "form.continue_at_range": "Please send a point after 0 and before the end ({limit} s), like 75 or 1:15.",
    "form.stale_button": "That question was already answered.",
    "form.start_again": "Please start again with /generate, /custom or by sending the audio. "
    "/help shows everything.",
    "form.cannot_extend": "I can't extend that track. Please extend one of your own recent songs.",
    # Chats of every type, edits and unknown input
    "form.lost": "The question you were answering here is closed (you started another one in another chat, "
    "or I could not keep it through an update): please start again with /generate, /custom or by sending "
    "the audio.",
    "form.closed": "This question is closed. Start again with /generate, /custom or by sending the audio.",
    "form.reply_in_group": "(In a group, answer by replying to this message.)",
    "unknown.text": "I make songs. Try /generate a calm lo-fi song about rain, /custom for your own lyrics, "
    "or send me an audio file. /help shows everything.",
    "unknown.command": "I don't know that command. I know /generate, /custom, /status, /language, /forget, "
    "/cancel and /help.",
    "unknown.media": "I can only work with audio: send an MP3, M4A, WAV, FLAC or OGG file or a voice note, "
    "or make a song with /generate. /help shows everything.",
    "button.unknown": "This button doesn't work any more.",
    # Request problems
    "problem.required": "{field} is missing: please add it.",
    "problem.too_long": "{field} is too long: {actual} characters, at most {limit}. Please shorten it.",
    "problem.continue_at": "The point to continue from must be after 0 s and before the end ({limit} s).",
    "problem.invalid": "{field} is not valid. Please check it and try again.",
    "field.prompt": "The description",
    "field.lyrics": "The lyrics",
    "field.style": "The style",
    "field.title": "The title",
    "field.tags": "The style",
    "field.negativeTags": "The styles to avoid",
    "field.continueAt": "The point to continue from",
    "field.request": "The request",
    # Access and quotas
    "access.denied": "Sorry, this bot is private. Ask its operator to let you in (your id is {user_id}).",
    "quota.active": "You already have {count} songs in the making (the limit is {limit}). "
    "Please wait until one is done.",
    "quota.daily": "You have made {limit} songs today, the daily limit. Come back tomorrow!",
    # Payments and credits
    "credits.short": "Not enough credits: a song costs {cost} and you have {balance}. /balance shows them.",
    "credits.off": "Payments are off in this bot: songs are free, within the limits.",
    "credits.balance": "Your credits: {balance} ({held} held for songs in the making).",
    "credits.recent": "Recent entries:",
    "credits.none_yet": "No entries yet.",
    "credits.kind.grant": "free credits",
    "credits.kind.purchase": "bought",
    "credits.kind.hold": "held for a song",
    "credits.kind.settle": "spent",
    "credits.kind.release": "given back",
    "credits.kind.refund": "refunded",
    "credits.kind.referral": "referral",
    "credits.kind.adjustment": "adjusted",
    "commands.buy": "Buy credits with Telegram Stars",
    "commands.balance": "Your credits",
    "pay.choose": "Choose a pack of credits (paid in Telegram Stars):",
    "pay.pack": "{credits} credits for {stars} ⭐",
    "pay.pack_gone": "That pack is no longer sold; /buy shows the current ones.",
    "pay.title": "{credits} credits",
    "pay.description": "{credits} credits for songs in this bot, for {stars} Telegram Stars.",
    "pay.refused": "This invoice is not valid any more. Please ask for a new one with /buy.",
    "pay.price_changed": "This pack's price has changed since the invoice was sent. "
    "Please ask for a new one with /buy.",
    "pay.thanks": "Thank you! {credits} credits added; you have {balance} now.",
    "commands.paysupport": "Help with a payment",
    "commands.terms": "Terms of purchase",
    "pay.support": "Trouble with a payment? Write to the bot's operator and give the date and the pack "
    "you bought; a payment whose credits were not added is refunded in Telegram Stars.",
    "pay.terms": "Credits are bought with Telegram Stars and spent on songs: one song costs the credits "
    "shown in /balance, held while it is made and given back when it fails for a reason that was not "
    "yours. Credits do not expire and are not exchanged for money; unused credits of a payment may be "
    "refunded on request (/paysupport).",
    "refund.usage": "Usage: /refund <telegram payment charge id> [force]",
    "refund.unknown": "No payment with charge id {charge} was credited here.",
    "refund.already": "Payment {charge} was refunded already.",
    "refund.spent": "Payment {charge} bought {credits} credits but only {balance} are left: they were "
    "spent. Send /refund {charge} force to refund it anyway.",
    "refund.failed": "Telegram refused to refund {charge}: {reason}",
    "refund.done": "Refunded {stars} ⭐ of payment {charge} to user {user_id}; their credits: {balance}.",
    "referral.welcome": "Welcome! Make your first song and you and the friend who invited you each get "
    "{credits} credits.",
    "referral.link": "Invite friends with your link: {link} (you each get {credits} credits at their "
    "first song).",
    # Payments: who may pay, payments in groups, what /forget keeps, the operator's day (issue 15 items 5, 7)
    "pay.not_allowed": "You cannot buy credits here: the bot's operator has not let you in.",
    "privacy.ledger_kept": "Your credit records (purchases, refunds, credits spent) stay, as financial "
    "records: amounts and dates with your user id, and none of your words or your name.",
    "admin.stats_payments": "Payments today: {stars} ⭐ from {purchases} purchases; refunds: {refunds} "
    "({refund_stars} ⭐). Credits spent today: {spent}; held now: {held}.",
    # Progress
    "kind.generate": "Song from a description",
    "kind.custom": "Song from your lyrics",
    "kind.extend": "Extending a song",
    "kind.upload_cover": "Cover of your audio",
    "kind.upload_extend": "Extending your audio",
    "kind.add_vocals": "Adding vocals to your audio",
    "kind.add_instrumental": "Adding an instrumental to your audio",
    "stage.queued": "Waiting to start",
    "stage.queued_position": "Waiting to start — place {position} in the queue",
    "stage.submitted": "Writing the song",
    "stage.text": "Lyrics ready, recording",
    "stage.first": "First track ready to stream, finishing",
    "stage.complete": "Done! Sending your tracks",
    "stage.failed": "Failed",
    "progress.asked_by": "Asked by {name}",
    "progress.elapsed": "Elapsed: {elapsed}",
    "progress.stream": "Listen while it finishes: {url}",
    "progress.tracks": "{count} tracks below.",
    # Failures, by provider code (design §6)
    "error.400": "The provider did not accept this request (invalid parameters or content). "
    "Please change the description or lyrics and try again.",
    "error.401": "The bot's provider key was refused. The operator has to fix it; please try later.",
    "error.404": "The provider did not recognise this request. Please try again later.",
    "error.408": "The provider timed out making this song. Please try again.",
    "error.413": "The provider refused it: the text is too long, or the uploaded audio matches an existing "
    "work. Shorten the text or use your own recording.",
    "error.429": "The service is out of credits right now. The operator has been told; please try later.",
    "error.451": "The provider could not download the audio file. Please send it again.",
    "error.455": "The provider is under maintenance. Please try again later.",
    "error.500": "The provider had an internal error. Please try again.",
    "error.501": "Making the song failed on the provider's side. Please try again, maybe with other words.",
    "error.531": "Making the song failed; your credits were refunded. Please try again.",
    "error.sensitive": "The provider refused the text because it contains words it does not allow. "
    "Please rephrase it.",
    "error.unreachable": "The music service cannot be reached right now. Please try again later.",
    "error.interrupted": "This song was interrupted by a restart before it started. Please send it again.",
    "error.unconfirmed": "The music service never confirmed that it took this request, so I did not send it "
    "again (that could have made and charged two songs). If it did take it, I can't reach it from here; "
    "please send the request again.",
    "error.unknown": "Something went wrong making this song. Please try again.",
    "error.upload_400": "The provider could not use this audio: its format is not supported, or its content "
    "was refused. Please send an MP3 or WAV file of your own music.",
    "error.upload_413": "The provider says this audio matches an existing published work, so it cannot be "
    "used. Please send your own recording.",
    "error.internal": "Sorry, something went wrong on my side. Please try again.",
    # Provider errors classified once (bot/provider/errors.py): busy is busy, whichever limit said so
    "error.busy": "The music service is busy right now (too many requests). Please try again in a minute.",
    # Delivery
    "audio.caption": "{tags}",
    "audio.performer": "AI Music",
    "audio.too_big": "This track is too big to send here; listen or download it at {url}",
    "audio.unavailable": "I could not fetch this track from the music service after several tries. "
    "You can listen to it or download it at {url}",
    "button.extend": "Extend",
    "button.cover": "Cover",
    "button.upload_extend": "Extend",
    "button.add_vocals": "Add vocals",
    "button.add_instrumental": "Add instrumental",
    # Studio: the provider's other tools (bot/studio/), the More… keyboard under a track, /sound
    "commands.sound": "Make a sound effect or loop",
    "kind.sounds": "Sound effect",
    "stage.studio.submitted": "Working on it",
    "stage.studio.complete": "Done! Sending it",
    "sound.usage": "Describe the sound after /sound, e.g. /sound rain on a tin roof loop=yes bpm=90 "
    "key=C#m\nOptions: loop=yes or no, bpm=1 to 300, key=C to B or Cm to Bm (with sharps, e.g. C#m), "
    "model=V5.",
    "sound.bad_option": "I don't understand “{word}”. The options are loop=yes or no, bpm=1 to 300, "
    "key=C to B or Cm to Bm (with sharps, e.g. C#m) and model=V5.",
    "problem.range": "{field} must be from {low} to {limit} (you gave {actual}). Please change it.",
    "problem.one_of": "{field} must be one of: {choices} (you gave {actual}). Please change it.",
    "problem.not_for_model": "{field} cannot be used with the {actual} model: please leave it out.",
    "field.soundTempo": "The tempo (bpm)",
    "field.soundKey": "The key",
    "field.soundLoop": "Loop",
    "field.model": "The model",
    "button.more": "More…",
    "button.back": "« Back",
    "studio.gone": "That track is no longer available for this. Try it under another one.",
    "button.wav": "WAV",
    "kind.wav": "Lossless WAV",
    "studio.file_too_big": "{name} is too big to send here (Telegram takes files up to 50 MB). "
    "Download it at {url}",
    "studio.file_unavailable": "I could not fetch {name} from the music service after several tries. "
    "Download it at {url}",
    # Studio, continued: stems, music video, lyrics and personas (bot/studio/)
    "button.vocals": "Separate vocals",
    "kind.vocals": "Vocals and instrumental",
    "button.stems": "All stems",
    "kind.stems": "All stems",
    "button.video": "Music video",
    "kind.video": "Music video",
    "commands.lyrics": "Write lyrics for an idea",
    "lyrics.usage": "Tell me what the song is about after /lyrics, e.g. /lyrics a peaceful night in the "
    "city. I'll write a few versions; press Use these under one to make a song of it.",
    "kind.lyrics": "Lyrics",
    "button.use_lyrics": "Use these",
    "button.lyrics": "Lyrics",
    "kind.timed_lyrics": "Lyrics with timings",
    "lyrics.instrumental": "This track is an instrumental: it has no lyrics to show.",
    "problem.too_many_words": "{field} is {actual} words long; at most {limit}. Please shorten it.",
    "button.persona": "Make a persona",
    "kind.persona": "Persona",
    "persona.ask_name": "What should this voice be called?",
    "persona.ask_description": "Describe the voice: its style, mood, instruments and vocal qualities (the "
    "more detail, the better).",
    "persona.ask_window": "Which 10 to 30 seconds of the track hold the voice? Send them as start-end, e.g. "
    "0:30-0:55 (the track is {duration} s long).",
    "persona.use_window": "Seconds {window}",
    "persona.bad_window": "Please send the window as start-end, e.g. 0:30-0:55 or 30-55.",
    "persona.window_out": "The window must be 10 to 30 seconds long and lie within the track's {duration} s. "
    "Please send another.",
    "persona.saved": "The persona “{name}” is saved. /custom and /generate will offer its voice.",
    "persona.exists": "This track already has a persona: the music service makes one per track.",
    "persona.too_short": "This track is too short for a persona: it needs at least 10 seconds of voice.",
    "form.ask_voice": "In whose voice? Press one of your personas, or the usual voice.",
    "form.voice_own": "The usual voice",
    "form.voice": "In the voice of {name}",
    "form.voice_unknown": "I don't know that voice: please press one of the buttons.",
    "field.name": "The name",
    "field.description": "The description",
    "field.vocalWindow": "The vocal window (seconds)",
    "field.vocalEnd": "The end of the vocal window",
    # Studio part 3: Improve this style in /custom (bot/studio/boost.py)
    "kind.boost_style": "Improved style",
    "boost.button": "✨ Improve this style",
    "boost.send": "Send the style you'd like improved (for example: dreamy synth-pop, female vocals). "
    "I'll suggest a fuller one, and you choose.",
    "boost.working": "Improving your style… I'll send it here in a moment.",
    "boost.result": "✨ Improved style:\n{style}\n\nYours was: {mine}",
    "boost.use": "Use it",
    "boost.keep": "Keep mine",
    # Status
    "status.none": "You have no songs yet. Try /generate a calm lo-fi song about rain",
    "status.header": "Your recent songs:",
    "status.line": "#{id} {kind} — {stage} ({ago} ago)",
    "status.stage.queued": "waiting to start",
    "status.stage.submitted": "being written",
    "status.stage.text": "recording",
    "status.stage.first": "almost done",
    "status.stage.complete": "done",
    "status.stage.failed": "failed",
    # Library: /library, its pages and buttons, and /status naming each song
    "commands.library": "Your songs: find one and send it again",
    "status.line_named": "#{id} “{name}” — {stage} ({ago} ago)",
    "library.empty": "Your library is empty: songs I deliver to you land here. Try /generate a calm lo-fi "
    "song about rain",
    "library.no_match": "None of your songs matches “{query}”. /library lists them all.",
    "library.header": "Your songs ({count}), page {page} of {pages}. Press one to get it again, 🗑 to "
    "remove it from the library. /library words finds songs.",
    "library.search_header": "Your songs matching “{query}” ({count}), page {page} of {pages}.",
    "library.untitled": "Untitled",
    "library.newer": "‹ Newer",
    "library.older": "Older ›",
    "library.gone": "This song is no longer in your library.",
    "library.removed": "Removed from your library.",
    "library.unit.now": "just now",
    "library.unit.m": "{n} min ago",
    "library.unit.h": "{n} h ago",
    "library.unit.d": "{n} d ago",
    # Share links: the Share button under a track, its link, revoking it, and opening it
    "button.share": "Share",
    "share.link": "Anyone who opens this link gets the song: {link}\nYou can revoke it at any time.",
    "share.revoke": "Revoke the link",
    "share.revoked": "Link revoked.",
    "share.revoked_text": "This link is revoked: it no longer gives the song. Press Share under the song "
    "for a new one.",
    "share.already_revoked": "This link was already revoked.",
    "share.dead": "This link no longer works: its owner revoked it or the song is gone. You can make "
    "your own: /generate a calm lo-fi song about rain",
    "share.invitation": "Someone shared “{name}” with you, a song made with me from a few words. "
    "Make your own: send /generate and a description, e.g. /generate a calm lo-fi song about rain",
    # Inline mode: `@bot words` posts one of the person's songs in any chat
    "inline.make_your_own": "Make your own",
    # Language
    "language.choose": "Choose a language:",
    "language.set": "I will speak English from now on.",
    # Admin
    "admin.only": "This command is for the bot's admins.",
    "admin.credits": "Provider balance: {credits} credits.",
    "admin.credits_failed": "Could not read the balance: {reason}",
    "admin.stats": (
        "Today: {total} tasks, {complete} done, {failed} failed, {active} in progress.\n"
        "Success rate: {rate}. People active: {people}.\n"
        "Failures by code: {failures}"
    ),
    "admin.allow_usage": "Usage: /allow <telegram user id>",
    "admin.block_usage": "Usage: /block <telegram user id>",
    "admin.allowed": "User {user_id} may use the bot now.",
    "admin.blocked": "User {user_id} is blocked.",
    # Operator: /broadcast and the low-balance alert
    "broadcast.usage": "Usage: /broadcast <text>. The text goes, as you write it, to everyone who uses "
    "the bot.",
    "broadcast.too_long": "That is {length} characters; a broadcast can have at most {limit}.",
    "broadcast.nobody": "Nobody to send it to yet: nobody uses the bot.",
    "broadcast.confirm": "Send this to {count} people?\n\n{text}",
    "broadcast.send": "Send to {count}",
    "broadcast.cancel": "Cancel",
    "broadcast.sending": "Sending broadcast #{id} to {count} people. I will tell you when it is done.",
    "broadcast.cancelled": "Broadcast cancelled: nothing was sent.",
    "broadcast.stale": "This broadcast is not waiting for an answer any more.",
    "broadcast.done": "Broadcast #{id} is done: {delivered} delivered, {blocked} had blocked the bot, "
    "{failed} failed.",
    "admin.credits_low": "⚠️ The provider balance is {credits} credits, below the {threshold} set in "
    "CREDITS_ALERT_BELOW. Top it up at https://sunoapi.org before songs start to fail.",
    "admin.out_of_credits": "⚠️ The provider says the account is out of credits. Tasks fail until it is "
    "topped up.",
    # Studio: Replace a section under a track (bot/studio/replace_section.py)
    "button.replace": "Replace a section",
    "kind.replace_section": "Replacing a section",
    "replace.ask_window": "Which part should be replaced? Send it as start-end, e.g. 0:40-1:05: 10 to 60 "
    "seconds, at most half the song (the track is {length} long, so at most {half} s).",
    "replace.bad_window": "Please send the part as start-end, e.g. 0:40-1:05 or 40-65.",
    "replace.window_order": "The part must end after it starts. Please send it as start-end, e.g. 0:40-1:05.",
    "replace.window_short": "That part is {span} s long: it must be at least 10 s. Please send a longer one.",
    "replace.window_long": "That part is {span} s long: at most 60 s can be replaced at once. Please send a "
    "shorter one.",
    "replace.window_half": "That part is {span} s long: at most half the song ({half} s) can be replaced. "
    "Please send a shorter one.",
    "replace.window_past_end": "The track is only {length} long: the part must end by then. Please send "
    "another.",
    "replace.ask_lyrics": "Send the new lyrics for that part.",
    "replace.ask_full_lyrics": "Now send the whole song's lyrics as they should be after the change (the "
    "parts you keep and the new one), or press the button: I'll keep the song's lyrics as they were and "
    "add your new part after them as a [Replaced] section.",
    "replace.keep_lyrics": "Keep the other lyrics as they were",
    "replace.instrumental": "This track is instrumental: there are no lyrics to replace.",
    "replace.too_short": "This track is too short to replace a part of it: it needs to be at least 20 "
    "seconds long (the part is 10 seconds or more, and at most half the song).",
    "field.fullLyrics": "The whole song's lyrics",
    "field.infillWindow": "The part to replace (seconds)",
    "field.infillStartS": "The start of the part",
    "field.infillEndS": "The end of the part",
    "error.505": "The music service has switched this feature off for now. Please try again later.",
    # Studio: cover art (bot/studio/cover.py)
    "kind.cover_art": "Cover art",
    "button.cover_art": "Cover art",
    "button.use_cover": "Use as cover",
    "button.use_cover_n": "Use cover {n}",
    "cover.choose": "Which one should be the cover of «{title}»?",
    "cover.have": "This song has its cover art already (above). Which one should be the cover of «{title}»?",
    "cover.coming": "Cover art for this song is on its way already.",
    "cover.resending": "Sending the track again with this cover…",
    "cover.resent_already": "This cover is on its way to this track already, or was sent above.",
    "cover.resend_failed": "I could not send «{title}» again with its new cover. Try another image, "
    "or this one later.",
    "error.duplicate": "This song's cover art is being made already: it comes in its own message.",
    # Mashup (bot/studio/mashup.py, handlers/mashup.py)
    "commands.mashup": "Mix two songs into a new one",
    "button.mashup": "Mashup",
    "kind.mashup": "Mashup",
    "field.uploadUrlList": "The two songs",
    "mashup.ask_first": "Send the first audio file (or pick one of your tracks).",
    "mashup.ask_second": "Pick the second track or send an audio file.",
    "mashup.pick": "🎵 {name}",
    "mashup.need_song": "Send an audio file, or press one of your tracks above.",
    "mashup.same_song": "Pick two different songs: that one is already the first.",
    "mashup.use_style": "Use “{style}”",
    "mashup.ask_lyrics": "Lyrics for the mashup? Send them, or press Instrumental mix.",
    "mashup.instrumental": "Instrumental mix",
    "error.mashup_400": "The provider refused this mashup: the lyrics contain copyrighted material, or it "
    "did not accept the request. Write your own lyrics (or choose Instrumental mix) and try again.",
    "error.mashup_413": "The provider says one of the songs matches an existing published work, so it "
    "cannot be mashed up. Please use your own recordings or tracks I made for you.",
    # Recovery: a finished song's lost audio asked for again (bot/studio/recovery.py)
    "kind.recovery": "Recovering lost audio",
    "progress.recovering": "Recovering the audio of {count} track(s)…",
    "recovery.lost": "Track {position} of “{title}” could not be recovered: {reason}.",
    "recovery.given_back": "No track of this song reached you, so its {credits} credits are back on your "
    "balance.",
    "recovery.reason.no_audio_id_mappings": "the music service has no such track any more",
    "recovery.reason.account_missing": "the music service lost the account that made it",
    "recovery.reason.get_tokens_failed": "the music service could not sign in to fetch it",
    "recovery.reason.feed_failed": "the music service could not look it up",
    "recovery.reason.clip_error": "the music service reports the track itself as broken",
    "recovery.reason.clip_not_complete": "the music service never finished the track",
    "recovery.reason.mango_transfer_failed": "the music service could not copy the recovered file",
    "recovery.reason.no_link": "the music service sent no link to it",
    "recovery.reason.failed": "the music service could not recover it",
    "recovery.reason.unknown": "the music service lost it",
}
