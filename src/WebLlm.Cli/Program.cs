using System.CommandLine;
using WebLlm.Cli;

// webllm: the training core from a terminal, like nanoGPT's prepare.py / train.py / sample.py and llm.c's train_gpt2.
WebLlm.Training.OpenMp.PreferShortSpins(); // before libtorch loads (see there)
WebLlm.Training.NativeAllocator.Tune(); // tensor memory reused from step to step (see there)
var root = new RootCommand("WebLlm: train GPT-2 style language models from scratch, sample them, benchmark the machine.")
{
    PrepareCommand.Create(),
    TrainCommand.Create(),
    SampleCommand.Create(),
    TokenizeCommand.Create(),
    BenchCommand.Create(),
    ImportCommand.Create(),
    ExportCommand.Create(),
    WatchCommand.Create(),
};
return CliRunner.Run(root, args);
