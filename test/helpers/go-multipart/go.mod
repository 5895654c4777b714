module postjoin.test/gomultipart

go 1.19
