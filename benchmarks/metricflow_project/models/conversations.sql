select * from support.conversations
