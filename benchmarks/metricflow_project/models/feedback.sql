select * from support.feedback
