var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWaveRegistryProxy();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveRegistryProxy();

app.Run();
