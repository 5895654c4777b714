module postjoin.test/karpentermerge

go 1.19
