var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWaveBuilder();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveBuilder();

app.Run();
