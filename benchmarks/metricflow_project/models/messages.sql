select * from support.messages
