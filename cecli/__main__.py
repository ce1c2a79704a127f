from cecli._entry import command

command()
